"""The pipeline: the plan (`plan`: every target, precision and runtime, and
every refusal, before any work) and the driver that runs it (`convert`)."""
