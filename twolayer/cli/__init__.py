"""The command line and run directories: argument parsing, commands, where runs are kept."""
