from ovn_inject.launcher import main

main(prog_name="ovn-inject")
