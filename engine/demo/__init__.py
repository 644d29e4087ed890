"""The demo scenario: departments, cases, a playbook of answers, the simulation loop, its checks and figures."""
