"""W4 latency: W1's MLP, predict on one sample at a time (what a service does in a loop)."""

from . import w4_predict

ID = "W4L"
DESCRIPTION = "W1's MLP, predict, batch 1 (latency: read ms/step as ms per call)"
BATCH = 1
train_flops_per_sample = w4_predict.train_flops_per_sample
make_data = w4_predict.make_data


def ranvier_step(x, y):
    return w4_predict.ranvier_step(x, y, batch=BATCH)


def numpy_step(x, y):
    return w4_predict.numpy_step(x, y, batch=BATCH)


def torch_step(x, y):
    return w4_predict.torch_step(x, y, batch=BATCH)
