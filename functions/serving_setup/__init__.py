"""The deploy-time custom resource that creates alias `live` (DESIGN §7)."""
