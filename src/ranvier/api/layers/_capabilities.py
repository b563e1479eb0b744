"""What a layer can run fused with its neighbours: declared by the layer, used by ``models._fusion``.

A layer returns a set of these names from its ``capabilities`` property; each
name promises methods with the signatures below. The fusion pass reads only
these declarations (never ``hasattr``) and rewrites the model's plan into
fused steps; a layer that declares nothing always runs as a plain step.

``PREACTIVATION``
    The layer ends with ``self.activation`` and has
    ``backward_preactivation(dz, cache, need_input_grad)``, which takes the
    gradient w.r.t. the pre-activation. Used when the loss folds the output
    activation (softmax/sigmoid + crossentropy) or when a max pool above a
    ReLU layer returns that gradient itself (``RELU_GRADIENT``).
``RELU_GRADIENT``
    A max pool with ``backward_through_relu(dy, cache)``: given the input is
    ``relu(z)``, it returns dL/dz in its one backward pass.
``MAXPOOL_2X2``
    A 2-D max pool with 2x2 windows, stride 2, "valid" padding, with
    ``call_unstored(input_shape, dtype, compute, training)``: what a
    ``CONV_MAXPOOL`` layer below it can pool inside its own kernel.
``CONV_MAXPOOL``
    A 2-D convolution with ``call_relu_maxpool(inputs, pool, training)`` and
    ``backward_through_maxpool(dy, cache, pool_cache, need_input_grad)``: it
    runs its ReLU and a ``MAXPOOL_2X2`` pool above it in one kernel each way,
    never storing its own output.
``DENSE_PAIR``
    A dense layer whose ``call`` cache is ``(x, z, y, input_shape)`` with
    ``x`` its 2-D input rows, with ``pair_row_blocked(second, rows)``
    (whether the pair's backward would run row-blocked on ``rows`` rows) and
    ``backward_pair(second, dy, cache, need_input_grad)``: as a plain-ReLU
    layer whose output only the linear ``DENSE_PAIR`` layer ``second`` reads,
    it runs both layers' backward from ``dy`` (the gradient of ``second``'s
    output) one block of rows at a time, and returns its input's gradient.
"""

__all__ = ["PREACTIVATION", "RELU_GRADIENT", "MAXPOOL_2X2", "CONV_MAXPOOL", "DENSE_PAIR"]

PREACTIVATION = "preactivation"
RELU_GRADIENT = "relu_gradient"
MAXPOOL_2X2 = "maxpool_2x2"
CONV_MAXPOOL = "conv_maxpool"
DENSE_PAIR = "dense_pair"
