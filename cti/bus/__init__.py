"""Event fan-out: domain events from the AMI pumps to the consoles, the store writer and other instances."""
