# Observability: Prometheus rules (promtool) and generated Grafana dashboards.
.PHONY: rules-test dashboards

# prometheus + promtool and Alertmanager + amtool from Debian; idempotent, and stops the packaged
# daemons (we run our own).
tools::
	bash scripts/install-prometheus.sh

rules-test: tools
	promtool check rules deploy/prometheus/rules.yaml
	promtool test rules deploy/prometheus/tests/*.yaml

# Regenerate the committed dashboards (tests/observability fails on drift).
dashboards:
	$(BIN)/python deploy/grafana/generate.py
