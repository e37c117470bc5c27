"""Hidden setup for TensorFlow 1.x cards: v1 behaviour, a fresh graph, the GAN's inputs.

Disabling v2 behaviour cannot be undone in a process; every card runs in its own.
"""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow.compat.v1 as tf

from gan_tf1 import model_inputs

# The answers use tf.layers knowingly; its deprecation warnings would only be noise.
warnings.filterwarnings("ignore", message=r"`tf\.layers\.\w+` is deprecated")
tf.disable_v2_behavior()
tf.reset_default_graph()
tf.set_random_seed(0)
np.random.seed(0)

batch_size = 64
z_dim = 100
image_width, image_height, image_channels = 28, 28, 1
learning_rate = 0.0002
beta1 = 0.5

input_real, input_z, lr = model_inputs(image_width, image_height, image_channels, z_dim)
z = input_z
is_train = True
