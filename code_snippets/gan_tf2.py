"""The GAN deck's TensorFlow 2 / Keras 3 answers: generator, discriminator, training.

Cards show the regions below with `include=`; the functions are ordinary Keras code.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# region generator
def make_generator(
    z_dim: int = 100, channels: int = 1, filters: int = 512
) -> keras.Model:
    """Return a model from noise vectors to 28x28 images in [-1, 1]."""
    z = keras.Input(shape=(z_dim,))
    x1 = keras.layers.Dense(2 * 2 * filters)(z)
    x1 = keras.layers.Reshape((2, 2, filters))(x1)
    x1 = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(x1))
    # 2x2 -> 7x7 -> 14x14 -> 28x28
    x2 = keras.layers.Conv2DTranspose(filters // 2, 5, 2, "valid")(x1)
    x2 = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(x2))
    x3 = keras.layers.Conv2DTranspose(filters // 4, 5, 2, "same")(x2)
    x3 = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(x3))
    x4 = keras.layers.Conv2DTranspose(channels, 5, 2, "same", activation="tanh")(x3)
    return keras.Model(z, x4, name="generator")
# endregion


def make_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1), filters: int = 64
) -> keras.Model:
    """Return a model from images to the logit of their being real."""
    images = keras.Input(shape=image_shape)
    # 28x28 -> 14x14 -> 7x7 -> 4x4
    x1 = keras.layers.Conv2D(filters, 5, 2, "same")(images)
    x1 = keras.layers.LeakyReLU(0.2)(x1)
    x2 = keras.layers.Conv2D(filters * 2, 5, 2, "same")(x1)
    x2 = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(x2))
    x3 = keras.layers.Conv2D(filters * 4, 5, 2, "same")(x2)
    x3 = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(x3))
    logits = keras.layers.Dense(1)(keras.layers.Flatten()(x3))
    return keras.Model(images, logits, name="discriminator")


# region train-step
def train_step(generator, discriminator, d_opt, g_opt, batch_images, batch_z):
    """Train the discriminator, then the generator, on one batch; return both losses."""
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        real_logits = discriminator(batch_images, training=True)
        fake_logits = discriminator(generator(batch_z, training=True), training=True)
        d_loss = loss(tf.ones_like(real_logits), real_logits) + loss(
            tf.zeros_like(fake_logits), fake_logits
        )
    d_vars = discriminator.trainable_variables
    d_opt.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

    with tf.GradientTape() as tape:
        fake_logits = discriminator(generator(batch_z, training=True), training=True)
        g_loss = loss(tf.ones_like(fake_logits), fake_logits)
    g_vars = generator.trainable_variables
    g_opt.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
    return d_loss, g_loss
# endregion
