from ovn_inject.cli import main

main(prog_name="ovn-inject")
