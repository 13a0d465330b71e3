"""The model: who the patients are, their daily modalities, triggers, attacks and feedback rules."""
