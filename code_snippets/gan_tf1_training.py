"""Hidden setup for TensorFlow 1.x training cards: a small GAN, optimizers, a session.

After it, `sess.run(d_opt, feed_dict=...)` trains, and `weights_before` holds every
trainable variable's value before any step.
"""

from __future__ import annotations

import numpy as np
import tensorflow.compat.v1 as tf

from gan_tf1 import model_loss, model_opt
from gan_tf1_inputs import (
    batch_size,
    beta1,
    image_channels,
    image_height,
    image_width,
    input_real,
    input_z,
    learning_rate,
    lr,
    z_dim,
)

# A narrow generator keeps a training step well under a second on a laptop CPU.
d_loss, g_loss = model_loss(input_real, input_z, image_channels, filters=64)
d_opt, g_opt = model_opt(d_loss, g_loss, lr, beta1)

sess = tf.Session()
sess.run(tf.global_variables_initializer())

shape = (batch_size, image_width, image_height, image_channels)
batch_images = np.random.uniform(-1, 1, size=shape).astype(np.float32)
batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim)).astype(np.float32)
weights_before = sess.run(tf.trainable_variables())
