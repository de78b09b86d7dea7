"""The local stack: moto's server, the same resources, the same handlers in-process."""
