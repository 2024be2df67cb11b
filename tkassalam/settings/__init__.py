"""Settings for every environment: everything comes from the environment or ``.env``."""

from .base import *  # noqa: F403
