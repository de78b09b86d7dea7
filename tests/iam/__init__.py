"""The least-privilege contract: AWS calls the handlers make, checked against the template.

moto does not evaluate IAM, so a missing grant passes every local test and fails on AWS (the
predict role once lacked s3:GetObjectVersion: every prediction after the first promotion would
have been a 503). This package records each AWS call a handler makes in the integration tests,
maps it to the IAM action and resource AWS would authorize, and evaluates the function's role in
the synthesized template, so a missing grant fails the test that made the call.
"""
