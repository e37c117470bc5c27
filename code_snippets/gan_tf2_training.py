"""Hidden setup for TensorFlow 2 training cards: a small GAN, optimizers, a batch."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gan_tf2 import make_discriminator, make_generator

batch_size = 64
z_dim = 100
learning_rate = 0.0002
beta1 = 0.5

# Narrow networks keep a training step well under a second on a laptop CPU.
generator = make_generator(z_dim, filters=64)
discriminator = make_discriminator(filters=16)
d_opt = keras.optimizers.Adam(learning_rate, beta_1=beta1)
g_opt = keras.optimizers.Adam(learning_rate, beta_1=beta1)

batch_images = tf.random.uniform((batch_size, 28, 28, 1), minval=-1, maxval=1)
batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim)).astype(np.float32)
