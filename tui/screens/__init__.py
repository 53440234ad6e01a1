"""The playground's screens: the main one, help, load, write, and the inspection screen."""
