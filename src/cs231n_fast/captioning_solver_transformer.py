"""Counterpart of the course's ``cs231n/captioning_solver_transformer.py`` (assignment 3) on
our optimisers.

The course's ``CaptioningSolverTransformer`` trains its PyTorch ``CaptioningTransformer`` with
``torch.optim.Adam``; this one trains :class:`cs231n_fast.classifiers.transformer.CaptioningTransformer`
(or any model with the ``loss(features, captions) -> (loss, grads)`` interface) with
:func:`cs231n_fast.optim.adam`, which is PyTorch's Adam with its default betas and epsilon.
It is :class:`cs231n_fast.captioning_solver.CaptioningSolver` with the course's options:

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.captioning_solver_transformer import CaptioningSolverTransformer
>>> from cs231n_fast.classifiers.transformer import CaptioningTransformer
>>> rng = np.random.default_rng(0)
>>> vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3}
>>> data = {"word_to_idx": vocab, "idx_to_word": {i: w for w, i in vocab.items()},
...         "train_captions": np.array([[1, 3, 2, 0]] * 4), "train_image_idxs": np.arange(4),
...         "train_features": rng.standard_normal((4, 6)), "train_urls": np.array(["u"] * 4)}
>>> model = CaptioningTransformer(vocab, input_dim=6, wordvec_dim=8, num_heads=2, seed=0)
>>> solver = CaptioningSolverTransformer(model, data, data["idx_to_word"], num_epochs=2,
...                                      batch_size=2, verbose=False)
>>> solver.train()
>>> len(solver.loss_history)
4
"""

from .captioning_solver import CaptioningSolver

__all__ = ["CaptioningSolverTransformer"]

#: The course's options and defaults (``seed`` is ours: it seeds the minibatches).
_DEFAULTS = {"learning_rate": 0.001, "batch_size": 100, "num_epochs": 10, "print_every": 10,
             "verbose": True, "seed": None}


class CaptioningSolverTransformer(CaptioningSolver):
    """Trains a captioning Transformer with Adam, as the course's solver.

    Parameters
    ----------
    model : object
        ``model.params`` (dict of arrays) and ``model.loss(features, captions) -> (loss,
        grads)``, e.g. :class:`~cs231n_fast.classifiers.transformer.CaptioningTransformer`.
    data : dict
        As :func:`cs231n_fast.coco_utils.load_coco_data` returns it.
    idx_to_word : dict
        Kept as ``solver.idx_to_word``, as in the course.
    learning_rate : float, default 0.001
        Adam's learning rate (betas 0.9 and 0.999, epsilon 1e-8: PyTorch's defaults).
    batch_size : int, default 100
    num_epochs : int, default 10
    print_every : int, default 10
    verbose : bool, default True
    seed : int, optional
        Seeds the minibatch draws (ours; without it NumPy's global state draws them).

    Attributes
    ----------
    loss_history : list of float
    idx_to_word : dict
    optim_configs : dict
        Adam's state per parameter.

    Raises
    ------
    ValueError
        "Unrecognized arguments" listing unknown options, or a bad option value.
    """

    def __init__(self, model, data, idx_to_word, **kwargs):
        extra = [k for k in kwargs if k not in _DEFAULTS]
        if extra:
            raise ValueError("Unrecognized arguments %s" % ", ".join('"%s"' % k for k in extra))
        options = {**_DEFAULTS, **kwargs}
        self.learning_rate = options.pop("learning_rate")
        super().__init__(model, data, update_rule="adam", optim_config={"learning_rate": self.learning_rate},
                         lr_decay=1.0, **options)
        self.idx_to_word = idx_to_word
