"""What every workload shares: its data cut into batches, served round-robin."""


def cycle_batches(x, y, batch, convert=None):
    """A ``next_batch()`` that returns ``(x, y)`` batches in turn, forever.

    ``convert(xb, yb)`` runs once per batch up front (e.g. to torch tensors in
    the framework's own layout), never inside the timed step.
    """
    batches = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]
    if convert is not None:
        batches = [convert(xb, yb) for xb, yb in batches]
    state = {"i": 0}

    def next_batch():
        state["i"] = (state["i"] + 1) % len(batches)
        return batches[state["i"]]

    return next_batch


def batch_step(train_on_batch, x, y, batch):
    """A ``step()`` that calls ``train_on_batch(x_batch, y_batch)`` on the next batch."""
    next_batch = cycle_batches(x, y, batch)

    def step():
        train_on_batch(*next_batch())

    return step


def torch_train_step(model, x, y, batch, to_torch_x=None):
    """PyTorch eager's training step for ``model``: Adam(1e-3, eps=1e-7) on softmax cross-entropy.

    ``to_torch_x`` converts an input batch (default: ``torch.from_numpy``), once per batch.
    """
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    to_x = to_torch_x or torch.from_numpy
    next_batch = cycle_batches(x, y, batch, lambda a, b: (to_x(a), torch.from_numpy(b)))

    def step():
        xb, yb = next_batch()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()

    return step
