/**
 * The TensorFlow.js types the library's exported functions and interfaces take and return, as
 * named aliases (each `mod.ts` exports them, so its documentation names every type its API uses).
 * They are the tfjs types themselves: a `tf.Tensor2D` is a {@linkcode Tensor2D} and back.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** A tensor of any rank (`tf.Tensor`). */
export type Tensor = tf.Tensor;
/** A rank-0 tensor (`tf.Scalar`). */
export type Scalar = tf.Scalar;
/** A rank-1 tensor (`tf.Tensor1D`). */
export type Tensor1D = tf.Tensor1D;
/** A rank-2 tensor, e.g. `[batch, features]` (`tf.Tensor2D`). */
export type Tensor2D = tf.Tensor2D;
/** A rank-3 tensor, e.g. `[classes, anchors, dim]` (`tf.Tensor3D`). */
export type Tensor3D = tf.Tensor3D;
/** A rank-4 tensor, e.g. `[batch, height, width, channels]` (`tf.Tensor4D`). */
export type Tensor4D = tf.Tensor4D;
/** A trainable (mutable) tensor (`tf.Variable`). */
export type Variable = tf.Variable;
/** An optimiser (`tf.Optimizer`). */
export type Optimizer = tf.Optimizer;
