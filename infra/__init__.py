"""The CDK app: one stack composed of constructs with one job each (DESIGN §4)."""
