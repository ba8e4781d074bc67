#!/usr/bin/env bash
# Write a deploy job's credentials from its environment's secrets (passed as environment
# variables, never interpolated into a script) to $RUNNER_TEMP/credentials, outside the checkout
# (the production preflight requires a clean one): the vault password and the SSH key 0600, the
# hosts' keys into known_hosts so that host key checking stays on. The job removes the directory
# at its end.
set -euo pipefail
: "${VAULT_PASSWORD:?the environment has no ANSIBLE_VAULT_PASSWORD secret}"
: "${SSH_PRIVATE_KEY:?the environment has no SSH_PRIVATE_KEY secret}"
: "${SSH_KNOWN_HOSTS:?the environment has no SSH_KNOWN_HOSTS secret}"
umask 077
dir="$RUNNER_TEMP/credentials"
install -d -m 0700 "$dir" "$HOME/.ssh"
printf '%s\n' "$VAULT_PASSWORD" >"$dir/vault-password"
printf '%s\n' "$SSH_PRIVATE_KEY" >"$dir/ssh-key"
printf '%s\n' "$SSH_KNOWN_HOSTS" >>"$HOME/.ssh/known_hosts"
chmod 0600 "$dir/vault-password" "$dir/ssh-key" "$HOME/.ssh/known_hosts"
