"""Folders that tfbt commands write: who made them (``kinds``), one writer at a time
(``lock``) and what a killed writer left (``processes``).

Shared by the run folders (``tfbt.runs.layout``), the dataset builder and the exporter, so that
every command applies the same rules to every other command's work. Standard library only.
"""
