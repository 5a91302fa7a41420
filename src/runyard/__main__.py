from runyard.cli.main import cli

cli()
