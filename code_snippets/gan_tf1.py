"""The GAN deck's TensorFlow 1.x model, as the answers were written, via tf.compat.v1.

Only functions: building a graph needs v2 behaviour disabled first, which the hidden
setup modules `gan_tf1_inputs` and `gan_tf1_training` do in each card's own process.
"""

from __future__ import annotations

import tensorflow.compat.v1 as tf

ALPHA = 0.2
"""Slope of the leaky ReLUs."""


def model_inputs(
    image_width: int, image_height: int, image_channels: int, z_dim: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Return placeholders for real images, noise vectors and the learning rate."""
    input_real = tf.placeholder(
        tf.float32, (None, image_width, image_height, image_channels), "input_real"
    )
    input_z = tf.placeholder(tf.float32, (None, z_dim), "input_z")
    lr = tf.placeholder(tf.float32, (), "lr")
    return input_real, input_z, lr


def generator(
    z: tf.Tensor, out_channel_dim: int, is_train: bool = True, filters: int = 512
) -> tf.Tensor:
    """Return 28x28 images in [-1, 1] made from the noise `z`."""
    with tf.variable_scope("generator", reuse=not is_train):
        x1 = tf.layers.dense(z, 2 * 2 * filters)
        x1 = tf.reshape(x1, (-1, 2, 2, filters))
        x1 = _leaky(tf.layers.batch_normalization(x1, training=is_train))
        # 2x2 -> 7x7 -> 14x14 -> 28x28
        x2 = tf.layers.conv2d_transpose(x1, filters // 2, 5, 2, "valid")
        x2 = _leaky(tf.layers.batch_normalization(x2, training=is_train))
        x3 = tf.layers.conv2d_transpose(x2, filters // 4, 5, 2, "same")
        x3 = _leaky(tf.layers.batch_normalization(x3, training=is_train))
        logits = tf.layers.conv2d_transpose(x3, out_channel_dim, 5, 2, "same")
        return tf.tanh(logits)


def discriminator(
    images: tf.Tensor, reuse: bool = False, filters: int = 64
) -> tuple[tf.Tensor, tf.Tensor]:
    """Return the probability that `images` are real, and its logits."""
    with tf.variable_scope("discriminator", reuse=reuse):
        # 28x28 -> 14x14 -> 7x7 -> 4x4
        x1 = _leaky(tf.layers.conv2d(images, filters, 5, 2, "same"))
        x2 = tf.layers.conv2d(x1, filters * 2, 5, 2, "same")
        x2 = _leaky(tf.layers.batch_normalization(x2, training=True))
        x3 = tf.layers.conv2d(x2, filters * 4, 5, 2, "same")
        x3 = _leaky(tf.layers.batch_normalization(x3, training=True))
        logits = tf.layers.dense(tf.layers.flatten(x3), 1)
        return tf.sigmoid(logits), logits


def model_loss(
    input_real: tf.Tensor, input_z: tf.Tensor, out_channel_dim: int, filters: int = 512
) -> tuple[tf.Tensor, tf.Tensor]:
    """Return the discriminator's and the generator's losses."""
    fake = generator(input_z, out_channel_dim, filters=filters)
    _, real_logits = discriminator(input_real)
    _, fake_logits = discriminator(fake, reuse=True)
    d_loss = _cross_entropy(real_logits, 1.0) + _cross_entropy(fake_logits, 0.0)
    g_loss = _cross_entropy(fake_logits, 1.0)
    return d_loss, g_loss


def model_opt(
    d_loss: tf.Tensor, g_loss: tf.Tensor, learning_rate: tf.Tensor, beta1: float
) -> tuple[tf.Operation, tf.Operation]:
    """Return Adam training ops for the discriminator and the generator."""
    variables = tf.trainable_variables()
    d_vars = [v for v in variables if v.name.startswith("discriminator")]
    g_vars = [v for v in variables if v.name.startswith("generator")]
    # Batch normalisation's moving averages update with the training step.
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(
            d_loss, var_list=d_vars
        )
        g_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(
            g_loss, var_list=g_vars
        )
    return d_opt, g_opt


def _leaky(x: tf.Tensor) -> tf.Tensor:
    return tf.maximum(ALPHA * x, x)


def _cross_entropy(logits: tf.Tensor, label: float) -> tf.Tensor:
    labels = tf.ones_like(logits) * label
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=labels)
    )
