"""Latent diffusion: train on your own sounds, then generate and restyle with control."""
