"""Transfer learning on the embedded digits: train on 0-4, fine-tune the last layer on 5-9.

The notes' recipe (CS231n "Transfer Learning"): train a network on one task, keep its layers
as a fixed feature extractor, replace the last (score) layer with a freshly initialised one for
the new task and train only that layer.

1. A small convnet (conv 3x3 - relu - pool - affine - relu - affine) is trained on the digits
   0-4 of the embedded UCI digits (``cs231n_fast.data.get_digits_data``).
2. Its last layer is replaced by a new ``Affine`` for the five classes 5-9 (labels 5..9 -> 0..4),
   every other layer is frozen (``Sequential.freeze(-1)``) and only the new layer is trained
   on the digits 5-9.
3. Prints the test accuracy on 0-4 after step 1, on 5-9 before fine-tuning (chance: the new
   layer is random) and after it, and the same for a network trained from scratch on 5-9 with
   the same budget (for comparison).

Run: ``python examples/transfer_learning.py``; ``run()`` returns the accuracies (the test
``tests/test_transfer_learning.py`` calls it).
"""

import numpy as np

from cs231n_fast.data import get_digits_data
from cs231n_fast.nn import Affine, Conv2D, Flatten, MaxPool2D, ReLU, Sequential
from cs231n_fast.solver import Solver


def _subset(data, classes, offset):
    out = {}
    for split in ("train", "val", "test"):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        keep = np.isin(y, classes)
        out[f"X_{split}"], out[f"y_{split}"] = X[keep], y[keep] - offset
    return out


def _features(seed):
    return [
        Conv2D(1, 16, 3, pad=1, seed=seed),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Affine(16 * 4 * 4, 64, seed=seed + 1),
        ReLU(),
    ]


def _train(model, data, *, epochs, seed, learning_rate=3e-3):
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": learning_rate},
                    num_epochs=epochs, batch_size=50, verbose=False, seed=seed)
    solver.train()
    return solver


def _accuracy(model, data, split="test"):
    scores = model.loss(data[f"X_{split}"])
    return float(np.mean(np.argmax(scores, axis=1) == data[f"y_{split}"]))


def run(*, seed=0, pretrain_epochs=10, finetune_epochs=20, finetune_lr=1e-2, scratch=True,
        verbose=True):
    """Train on 0-4, fine-tune only a new last layer on 5-9; returns a dict of accuracies.

    Adam throughout, batch size 50; learning rate 3e-3 for the training on 0-4 (and from
    scratch), ``finetune_lr`` for the last layer alone.

    Keys: ``"pretrain_test_0_4"``, ``"finetune_before_5_9"`` (the new random last layer),
    ``"finetune_test_5_9"``, ``"scratch_test_5_9"`` (the whole network trained on 5-9 for
    ``finetune_epochs``; only with ``scratch=True``), ``"frozen_unchanged"`` (the frozen
    parameters and buffers are bitwise the same after fine-tuning).
    """
    digits = get_digits_data(num_validation=250, num_test=250, seed=0)
    first, second = _subset(digits, range(5), 0), _subset(digits, range(5, 10), 5)

    base = Sequential(*_features(seed), Affine(64, 5, seed=seed + 2))
    _train(base, first, epochs=pretrain_epochs, seed=seed)
    result = {"pretrain_test_0_4": _accuracy(base, first)}

    # the trained feature layers, frozen, and a new score layer for 5-9
    model = Sequential(*base.layers[:-1], Affine(64, 5, seed=seed + 3)).freeze(-1)
    frozen = {k: v.copy() for k, v in model.state_dict().items() if not k.startswith("6.")}
    assert list(model.params) == ["6.W", "6.b"]
    result["finetune_before_5_9"] = _accuracy(model, second)
    _train(model, second, epochs=finetune_epochs, seed=seed, learning_rate=finetune_lr)
    result["finetune_test_5_9"] = _accuracy(model, second)
    after = model.state_dict()
    result["frozen_unchanged"] = all(np.array_equal(v, after[k]) for k, v in frozen.items())

    if scratch:
        net = Sequential(*_features(seed + 10), Affine(64, 5, seed=seed + 12))
        _train(net, second, epochs=finetune_epochs, seed=seed)
        result["scratch_test_5_9"] = _accuracy(net, second)

    if verbose:
        n0, n1 = len(first["y_test"]), len(second["y_test"])
        print(f"trained on 0-4: test accuracy on 0-4 {result['pretrain_test_0_4']:.3f} "
              f"({n0} images)")
        print(f"new last layer, before fine-tuning: 5-9 {result['finetune_before_5_9']:.3f}")
        print(f"last layer fine-tuned on 5-9 (rest frozen): test accuracy on 5-9 "
              f"{result['finetune_test_5_9']:.3f} ({n1} images)")
        if scratch:
            print(f"whole network trained from scratch on 5-9: {result['scratch_test_5_9']:.3f}")
        print(f"frozen parameters and buffers unchanged: {result['frozen_unchanged']}")
    return result


if __name__ == "__main__":
    from cs231n_fast.training import limit_threads

    with limit_threads(1):  # small images: one thread is fastest (as cs231n-fast train digits)
        run()
