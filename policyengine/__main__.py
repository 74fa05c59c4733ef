from policyengine.cli import run

run()
