#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one run (CI has no GPU; a session lent a machine with one runs this there
# through the device tool, in about 5 minutes). It uses that machine's own python3, which must hold torch,
# PyTorch Geometric, numpy, scipy and pytest, on this checkout as it is, uninstalled: the clustering core needs
# nothing else (no photo, database or Qt package), and the weights are read from resources/.
#   bash tests/cuda_check.sh            # the output also goes to $OUT/cuda-check.log when OUT is set
#   DEVICE=cpu SIZES="5000 20000" bash tests/cuda_check.sh  # the same steps on the CPU, to try the script
#                                        # where there is no GPU (exact search up to 30,000: no hnswlib needed)
set -o pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
device=${DEVICE:-cuda}
log=${OUT:-/tmp}/cuda-check.log
status=0
step() {
    echo "== $*" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log" || status=1
}
: >"$log"
step python3 -c "import sys, torch, torch_geometric; print(sys.version.split()[0], 'torch', torch.__version__, 'PyG', torch_geometric.__version__, 'CUDA', torch.cuda.is_available() and torch.cuda.get_device_name(0))"
# The model's and the estimator's CUDA checks (CPU vs CUDA partitions, twice bit-identical on the card), the
# device choice, a card filled until grouping on it runs out of memory (told as the index's CPU fallback needs),
# and the model's other tests beside them.
step python3 -m pytest -q -rs -p no:cacheprovider tests/test_device.py tests/clustering/test_lander.py \
    tests/clustering/test_hilander.py::test_hilander_on_cuda_groups_as_on_the_cpu_and_repeats
# Time and memory per stage on the card: the exact kNN search runs on it at every size.
for n in ${SIZES:-100000 1000000}; do
    step python3 -m photo_grouper.bench.scale --n "$n" --device "$device"
done
echo "== exit $status" | tee -a "$log"
exit $status
