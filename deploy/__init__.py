"""From a planned option to a serving KServe + vLLM endpoint.

    render.py    pure: PlanResult option + GpuSpec + RenderSettings -> RenderedManifests (templates/*.j2)
    args.py      pure: vLLM arguments from the option's ServingConfig
    names.py     pure: DNS-1123 checks, names derived from model id, GPU and TP
    validate.py  offline: every object against its CRD schema (deploy/schemas/), typos caught
    apply.py     the deployment against Kubernetes: dry run, server-side apply, Ready,
                 health check, rollback; `deploy_option` is what the deploy worker job calls
    cluster.py   the Kubernetes API calls apply.py makes (errors mapped); rollback.py the undo
    status.py, health.py, outcome.py, kinds.py, errors.py: the other pieces apply.py uses

Approval gate: nothing here checks approvals. The worker job that calls `deploy_option` runs only
for a plan whose admin approval is recorded in the knowledge base; the CLI's `predeploy deploy` is
the operator's own action and needs none.
"""
