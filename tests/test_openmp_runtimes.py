"""ranvier trains next to the OpenMP runtimes scikit-learn and PyTorch bundle, in one process.

A repaired wheel carries its own libgomp copy (renamed by auditwheel), as do
scikit-learn's and PyTorch's wheels: the three must load side by side and each
train. A fresh process, so that the others load their runtimes first.
"""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import sklearn.ensemble
    import torch
    import threadpoolctl
    import ranvier as rv

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)

    forest = sklearn.ensemble.HistGradientBoostingClassifier(max_iter=10).fit(x, y)  # OpenMP inside
    net = torch.nn.Linear(8, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    model = rv.Sequential([rv.layers.Input((8,)), rv.layers.Dense(16, activation="relu"),
                           rv.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=rv.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=10, verbose=0)
    accuracy = model.evaluate(x, y, verbose=0)[1]
    runtimes = sorted({lib["filepath"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "openmp"})
    print(f"{len(runtimes)} OpenMP runtimes:", *runtimes, sep="\\n  ")
    assert forest.score(x, y) > 0.9 and accuracy > 0.9, (forest.score(x, y), accuracy)
    """
)


def test_trains_next_to_sklearn_and_torch_openmp_runtimes():
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(proc.stdout)
