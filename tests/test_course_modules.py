"""``from cs231n_fast.X import *`` gives every public name ``from cs231n.X import *`` gives.

The lists are the course's (the 2022 assignments 1-3, NumPy modules): every function, class
and constant its modules define or star-import from one another. Left out: the Python 2
shims the course imports (``range``, ``xrange``, ``object``, ``zip``, ``print_function``,
``division``, ``standard_library``), what they import from the standard library or SciPy for
their own use (``shuffle``, ``randrange``, ``sqrt``, ``ceil``, ``uniform_filter``), and
``coco_utils.dir_path`` (the course package's own folder). The PyTorch modules
(``net_visualization_pytorch``, ``gan_pytorch``, ``transformer_layers``, ...) are not
NumPy code and not part of this package.
"""

import importlib

import pytest

LAYERS = {
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss", "svm_loss",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
    "layernorm_backward", "dropout_forward", "dropout_backward", "conv_forward_naive",
    "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward", "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
}  # fmt: skip
IM2COL = {"get_im2col_indices", "im2col_indices", "col2im_indices"}
FAST_LAYERS = {
    "conv_forward_fast", "conv_backward_fast", "conv_forward_im2col", "conv_backward_im2col",
    "conv_forward_strides", "conv_backward_strides", "max_pool_forward_fast",
    "max_pool_backward_fast", "max_pool_forward_reshape", "max_pool_backward_reshape",
    "max_pool_forward_im2col", "max_pool_backward_im2col",
} | IM2COL  # fmt: skip
LAYER_UTILS = (
    {
        "affine_relu_forward", "affine_relu_backward", "affine_bn_relu_forward",
        "affine_bn_relu_backward", "affine_ln_relu_forward", "affine_ln_relu_backward",
        "conv_relu_forward", "conv_relu_backward", "conv_bn_relu_forward", "conv_bn_relu_backward",
        "conv_relu_pool_forward", "conv_relu_pool_backward",
    }  # fmt: skip
    | LAYERS
    | FAST_LAYERS
)
RNN_LAYERS = {
    "affine_forward", "affine_backward", "rnn_step_forward", "rnn_step_backward", "rnn_forward",
    "rnn_backward", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "word_embedding_forward", "word_embedding_backward", "temporal_affine_forward",
    "temporal_affine_backward", "temporal_softmax_loss", "sigmoid",
}  # fmt: skip
LOSSES = {"svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized"}

COURSE_NAMES = {
    "layers": LAYERS,
    "layer_utils": LAYER_UTILS,
    "fast_layers": FAST_LAYERS,
    "im2col": IM2COL,
    "rnn_layers": RNN_LAYERS,
    "optim": {"sgd", "sgd_momentum", "rmsprop", "adam"},
    "solver": {"Solver"},
    "gradient_check": {
        "eval_numerical_gradient", "eval_numerical_gradient_array", "eval_numerical_gradient_blobs",
        "eval_numerical_gradient_net", "grad_check_sparse",
    },  # fmt: skip
    "data_utils": {
        "load_pickle", "load_CIFAR_batch", "load_CIFAR10", "get_CIFAR10_data", "load_tiny_imagenet",
        "load_models", "load_imagenet_val", "imread",
    },  # fmt: skip
    "vis_utils": {"visualize_grid", "vis_grid", "vis_nn"},
    "features": {"extract_features", "rgb2gray", "hog_feature", "color_histogram_hsv"},
    "image_utils": {
        "blur_image", "SQUEEZENET_MEAN", "SQUEEZENET_STD", "preprocess_image", "deprocess_image",
        "image_from_url", "load_image", "imread",
    },  # fmt: skip
    "coco_utils": {"BASE_DIR", "load_coco_data", "decode_captions", "sample_coco_minibatch"},
    "captioning_solver": {"CaptioningSolver", "sample_coco_minibatch"},
    "classifiers": {"KNearestNeighbor", "LinearClassifier", "LinearSVM", "Softmax"} | LOSSES,
    "classifiers.k_nearest_neighbor": {"KNearestNeighbor"},
    "classifiers.linear_classifier": {"LinearClassifier", "LinearSVM", "Softmax"} | LOSSES,
    "classifiers.linear_svm": {"svm_loss_naive", "svm_loss_vectorized"},
    "classifiers.softmax": {"softmax_loss_naive", "softmax_loss_vectorized"},
    "classifiers.fc_net": {"TwoLayerNet", "FullyConnectedNet"} | LAYER_UTILS,
    "classifiers.cnn": {"ThreeLayerConvNet"} | LAYER_UTILS,
    "classifiers.rnn": {"CaptioningRNN"} | RNN_LAYERS,
}


@pytest.mark.parametrize("module", sorted(COURSE_NAMES))
def test_star_import_gives_the_courses_names(module):
    namespace = {}
    exec(f"from cs231n_fast.{module} import *", namespace)
    missing = sorted(COURSE_NAMES[module] - set(namespace))
    assert not missing, f"from cs231n_fast.{module} import * lacks the course's {missing}"
    mod = importlib.import_module(f"cs231n_fast.{module}")
    for name in COURSE_NAMES[module]:
        assert namespace[name] is getattr(mod, name)


@pytest.mark.parametrize("module", sorted(COURSE_NAMES))
def test_all_lists_only_existing_names(module):
    mod = importlib.import_module(f"cs231n_fast.{module}")
    absent = [name for name in getattr(mod, "__all__", ()) if not hasattr(mod, name)]
    assert not absent, f"cs231n_fast.{module}.__all__ names {absent}, which it does not define"
