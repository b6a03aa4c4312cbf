#!/usr/bin/env bash
# Fails when the checked-in generated code differs from what
# hack/update-codegen.sh produces. Generates into a scratch copy of the
# repository so the working tree is never touched.
set -o errexit -o nounset -o pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=$(mktemp -d)
trap 'rm -rf "${SCRATCH}"' EXIT

cd "${REPO_ROOT}"
# Copy the tracked and untracked-but-not-ignored files, not _output/.
git ls-files --cached --others --exclude-standard -z | xargs -0 cp --parents -t "${SCRATCH}"
# Generated files that were deleted from the tree must be noticed too.
"${SCRATCH}/hack/update-codegen.sh" >/dev/null

status=0
for dir in pkg/generated pkg/apis hack/api-rules-violations.list; do
    diff -Naupr "${REPO_ROOT}/${dir}" "${SCRATCH}/${dir}" || status=1
done
if [[ ${status} -ne 0 ]]; then
    echo "generated code is out of date: run hack/update-codegen.sh" >&2
    exit 1
fi
echo "generated code is up to date"
