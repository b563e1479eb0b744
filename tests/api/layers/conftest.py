"""Fixtures of the layer tests: ``sgd_parity`` (a one-layer model against a PyTorch float64 twin)."""

import numpy as np
import pytest

import ranvier as rv


def _channels_first(rank):
    return (0, rank + 1) + tuple(range(1, rank + 1)), (0,) + tuple(range(2, rank + 2)) + (1,)


def _sgd_parity(torch, layer, in_shape, make_net, weights_from_net, seed=0):
    """Check ``Model(layer)`` (float32, MSE, SGD 0.1, batches of 4) against ``make_net(layer)``.

    ``make_net(layer)`` returns ``(net, forward)``: a float64 torch module holding ``layer``'s
    current weights and ``forward(x)`` giving the layer's output (activation included) for a
    channels-first float64 tensor; ``weights_from_net(net)`` gives its weights as
    ``layer.get_weights()`` lists them (Keras' layouts). The bias is drawn at random first so
    that it matters.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((12,) + tuple(in_shape)).astype(np.float32)
    inputs = rv.layers.Input(in_shape)
    model = rv.Model(inputs, layer(inputs))
    y = rng.standard_normal((12,) + tuple(model.output_shape[1:])).astype(np.float32)
    layer.bias.assign(rng.standard_normal(layer.bias.shape).astype(np.float32))
    net, forward = make_net(layer)
    to_torch, from_torch = _channels_first(len(in_shape) - 1)

    def run(xb):
        return forward(torch.from_numpy(xb.astype(np.float64)).permute(*to_torch)).permute(*from_torch)

    np.testing.assert_allclose(model.predict(x, verbose=0), run(x).detach().numpy(), atol=1e-5, rtol=0)
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for start in range(0, 12, 4):
        target = torch.from_numpy(y[start : start + 4].astype(np.float64))
        loss = torch.nn.functional.mse_loss(run(x[start : start + 4]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    expected = weights_from_net(net)
    assert len(expected) == len(layer.weights)
    for value, want in zip(layer.get_weights(), expected):
        np.testing.assert_allclose(value, want, atol=1e-5, rtol=0)


@pytest.fixture
def sgd_parity():
    """``_sgd_parity``: forward and three SGD steps of ``Model(layer)`` against PyTorch."""
    return _sgd_parity
