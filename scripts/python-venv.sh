# Sourced by the set-up scripts that make a Python virtualenv (models.sh, test-tools.sh).
# need_python_venv LABEL: installs Debian's python3-venv when `python3 -m venv` cannot work yet.
need_python_venv() {
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "$1: installing python3-venv"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
}
