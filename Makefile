# Two commands do everything on a fresh machine: `make run` and `make test`.
.PHONY: install run test unit stack-up stack-down stack-status

install:
	bash -c 'source scripts/lib.sh && install_project'

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

# The unit tests alone: no servers, in seconds (the whole suite is `make test`).
unit:
	bash -c 'source scripts/lib.sh && install_project && "$${UV[@]}" run --frozen pytest -q tests/unit'

stack-up:
	bash -c 'source scripts/lib.sh && install_project && "$${UV[@]}" run --frozen python -m devstack up'

stack-down:
	bash -c 'source scripts/lib.sh && "$${UV[@]}" run --frozen python -m devstack down'

stack-status:
	bash -c 'source scripts/lib.sh && "$${UV[@]}" run --frozen python -m devstack status'
