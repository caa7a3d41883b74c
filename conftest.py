"""Test configuration shared by tests/, doctests in variables/ and docs/.

JAX gets two CPU devices so that multi-device behaviour is exercised on any machine.
"""

import jax
from hypothesis import HealthCheck, settings

jax.config.update("jax_num_cpu_devices", 2)

settings.register_profile(
    "variables",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("variables")
