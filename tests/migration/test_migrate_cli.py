"""The command line: --diff, --write, --check, --jobs, --annotate, the summary."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migration.__main__ import main as module_main
from migration._cli import main

REPO = Path(__file__).resolve().parents[2]
OLD = (
    "import flax\nfrom flax.core import freeze, unfreeze\n\n\n"
    "def f(p, cache):\n    cache[freeze({'k': 1})] = 1\n    print(unfreeze(p))\n"
    "    return freeze({'a': 1})\n"
)
NEW = (
    "import flax\nfrom flax.core import freeze\n\n\n"
    "def f(p, cache):\n    cache[freeze({'k': 1})] = 1\n    print(p)\n"
    "    return {'a': 1}\n"
)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "train.py").write_text(OLD)
    (tmp_path / "plain.py").write_text("print('no flax here')\n")
    return tmp_path


def test_diff_is_the_default_and_changes_nothing(project):
    status, out, err = run(str(project))
    assert status == 0
    assert out.startswith(f"--- {project}/train.py\n+++ {project}/train.py\n@@")
    assert "-    print(unfreeze(p))\n-    return freeze({'a': 1})\n" in out
    assert "+    print(p)\n+    return {'a': 1}\n" in out
    assert (project / "train.py").read_text() == OLD
    assert err.splitlines()[0].startswith(
        "variables-migrate: 2 files scanned, 1 files would change, 3 rewrites, "
        "1 refused, 0 errors ("
    )


def test_summary_lists_rewrites_and_every_refusal(project):
    _, _, err = run("--diff", str(project))
    lines = err.splitlines()
    assert lines[1:5] == [
        "rewrites per pattern:",
        "  P01    1",
        "  P02    1",
        "  P04a   1",
    ]
    assert lines[5] == "refused (left unchanged):"
    assert lines[6].startswith(
        f"  {project}/train.py:6: P04a/HASH: it is used as a key"
    )


def test_write_rewrites_in_place(project):
    status, out, err = run("--write", str(project))
    assert status == 0 and out == ""
    assert (project / "train.py").read_text() == NEW
    assert "1 files changed" in err
    status, _, err = run("--check", str(project))
    assert status == 0 and "0 files would change" in err


def test_check_exits_one_and_prints_no_diff(project):
    status, out, err = run("--check", str(project))
    assert status == 1 and out == ""
    assert (project / "train.py").read_text() == OLD


def test_annotate_with_write(project):
    run("--write", "--annotate", str(project / "train.py"))
    text = (project / "train.py").read_text()
    assert "    # variables-migration: P04a/HASH: it is used as a key" in text
    status, _, _ = run("--check", "--annotate", str(project))
    assert status == 0


def test_use_variables_flag(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import flax\n\ndef f(p):\n    q = p.unfreeze()\n    q['a'] = 1\n    return q\n"
    )
    run("--write", "--use-variables", str(path))
    assert "q = vs.clone_pytree(p)" in path.read_text()


def test_unparsable_file_is_reported_and_skipped(project):
    broken = project / "broken.py"
    broken.write_text("import flax\ndef f(:\n")
    status, out, err = run("--write", str(project))
    assert status == 2
    assert broken.read_text() == "import flax\ndef f(:\n"
    assert (project / "train.py").read_text() == NEW
    assert f"  {broken}: does not parse: line" in err
    assert "errors (files skipped, nothing written):" in err


def test_jobs_match_serial_output(project):
    for i in range(3):
        (project / f"copy{i}.py").write_text(OLD)
    serial = run("--quiet", str(project))
    parallel = run("--jobs", "2", str(project))
    assert serial[0] == parallel[0] == 0
    assert parallel[1].count("+++ ") == 4
    assert serial[2].split(" (")[0] == parallel[2].split(" (")[0]
    assert run("--jobs", "-1", str(project))[0] == 2


def test_quiet_prints_only_the_summary_line(project):
    status, out, err = run("--quiet", str(project))
    assert out == "" and len(err.splitlines()) == 1


def test_modes_are_exclusive(project, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--write", "--check", str(project)])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_module_entry_point_and_console_script(project):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "migration", "--check", str(project)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 1 and "1 files would change" in done.stderr
    assert module_main(["--quiet", str(project / "plain.py")]) == 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_is_reported_once_per_file_in_order(project, jobs):
    from migration import migrate_paths

    for i in range(5):
        (project / f"copy{i}.py").write_text(OLD)
    calls = []
    results = migrate_paths([project], jobs=jobs, progress=lambda *a: calls.append(a))
    assert calls == [(i, len(results)) for i in range(1, len(results) + 1)]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_and_never_in_the_output(project, monkeypatch):
    from migration import _cli

    made = []

    class Recording(_cli._ProgressBar):
        def __init__(self, stream):
            super().__init__(stream, delay=0)
            made.append(self)

    monkeypatch.setattr(_cli, "_ProgressBar", Recording)
    out, err = io.StringIO(), _Terminal()
    assert main([str(project)], stdout=out, stderr=err) == 0
    assert len(made) == 1 and "0/2 [" in err.getvalue()  # the bar, on stderr
    assert "file/s" not in out.getvalue() and out.getvalue().startswith("--- ")
    run(str(project))  # not a terminal: no bar
    run("--quiet", str(project))
    assert len(made) == 1
