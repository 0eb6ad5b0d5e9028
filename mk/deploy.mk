# Deployment targets: the image lint, the Helm chart, the plain manifests in k8s/.
# Included by the main Makefile (`-include mk/*.mk`); tools come from scripts/install-tools.sh.
HELM ?= $(or $(shell command -v helm 2>/dev/null),$(CURDIR)/.tools/bin/helm)
CHART := charts/ragtasks
K8S_RELEASE := ragtasks
K8S_NAMESPACE := ragtasks

.PHONY: chart-test chart-sync k8s lint-deploy

tools:: ; bash scripts/install-tools.sh

# helm lint --strict for every ci/*.yaml scenario, then template + kubernetes-validate and the
# chart's behaviour assertions (all in tests/deploy, run with the real helm).
chart-test: install
	@for f in $(CHART)/ci/*.yaml; do \
		echo "helm lint --strict -f $$f"; \
		$(HELM) lint --strict $(CHART) -f $$f >/dev/null || { $(HELM) lint --strict $(CHART) -f $$f; exit 1; }; \
	done
	$(BIN)/pytest -q tests/deploy $(PYTEST_ARGS)

# The chart carries copies of the observability rules and dashboards (a chart can only read files
# inside itself); tests/deploy/test_chart_sync.py fails when they differ from deploy/.
chart-sync:
	@if [ -f deploy/prometheus/rules.yaml ]; then cp deploy/prometheus/rules.yaml $(CHART)/files/prometheus-rules.yaml; fi
	@if ls deploy/grafana/dashboards/*.json >/dev/null 2>&1; then \
		rm -f $(CHART)/dashboards/*.json && cp deploy/grafana/dashboards/*.json $(CHART)/dashboards/; fi

# Render k8s/ragtasks.yaml from the chart with the documented k8s/values.yaml.
k8s: tools
	$(HELM) template $(K8S_RELEASE) $(CHART) --namespace $(K8S_NAMESPACE) -f k8s/values.yaml > k8s/ragtasks.yaml
	@echo "rendered k8s/ragtasks.yaml"

lint-deploy: install
	$(BIN)/hadolint Dockerfile
	$(BIN)/actionlint
