"""What every stage uses: file reading with limits, atomic writes and locks, paths, counters, thread names, sd_notify, logging."""
