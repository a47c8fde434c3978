"""A small order service used as the preflight example project."""
