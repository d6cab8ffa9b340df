"""The shared vocabulary of the pure core: ids, domain events, call journeys, errors, clock. No I/O."""
