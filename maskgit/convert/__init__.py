"""Checkpoints written by other code, converted into maskgit's (maskgit.convert.lab: the course lab's)."""
