"""initial schema: seed entities, catalog facts, thread state

Revision ID: 0001
Revises:
Create Date: 2026-11-28 09:50:10.573127
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hardware_profiles',
    sa.Column('gpu_type', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('vram_gb', sa.Integer(), nullable=False),
    sa.Column('memory_gib', sa.Double(), nullable=False),
    sa.Column('tflops_fp16', sa.Double(), nullable=False),
    sa.Column('fp8_tflops', sa.Double(), nullable=False),
    sa.Column('int8_tops', sa.Double(), nullable=False),
    sa.Column('memory_bandwidth_gb_s', sa.Double(), nullable=False),
    sa.Column('manufacturer', sa.String(length=255), nullable=False),
    sa.Column('architecture', sa.String(length=255), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('supported_parallelism', sa.JSON(), nullable=False),
    sa.Column('max_tensor_parallel', sa.Integer(), nullable=False),
    sa.Column('interconnect', sa.String(length=255), nullable=False),
    sa.Column('interconnect_gb_s', sa.Double(), nullable=False),
    sa.Column('gpus_per_node', sa.Integer(), nullable=False),
    sa.Column('node_label', sa.String(length=255), nullable=False),
    sa.Column('resource_name', sa.String(length=255), nullable=False),
    sa.Column('compute_capability', sa.String(length=255), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('gpu_type', name=op.f('pk_hardware_profiles'))
    )
    op.create_table('kb_meta',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_kb_meta'))
    )
    op.create_table('memory_measurements',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('model', sa.String(length=255), nullable=False),
    sa.Column('gpu', sa.String(length=255), nullable=False),
    sa.Column('tensor_parallel', sa.Integer(), nullable=False),
    sa.Column('pipeline_parallel', sa.Integer(), nullable=False),
    sa.Column('data_parallel', sa.Integer(), nullable=False),
    sa.Column('max_model_len', sa.Integer(), nullable=False),
    sa.Column('dtype', sa.String(length=255), nullable=False),
    sa.Column('quantization', sa.String(length=255), nullable=True),
    sa.Column('kv_cache_dtype', sa.String(length=255), nullable=False),
    sa.Column('gpu_memory_utilization', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('weights_gib', sa.Double(), nullable=True),
    sa.Column('activation_gib', sa.Double(), nullable=True),
    sa.Column('non_torch_gib', sa.Double(), nullable=True),
    sa.Column('cuda_graph_gib', sa.Double(), nullable=True),
    sa.Column('kv_cache_gib', sa.Double(), nullable=True),
    sa.Column('kv_cache_tokens', sa.Integer(), nullable=True),
    sa.Column('max_concurrency', sa.Double(), nullable=True),
    sa.Column('architecture', sa.String(length=255), nullable=True),
    sa.Column('num_layers', sa.Integer(), nullable=True),
    sa.Column('num_kv_heads', sa.Integer(), nullable=True),
    sa.Column('head_dim', sa.Integer(), nullable=True),
    sa.Column('kv_bytes_per_token', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_measurements'))
    )
    op.create_table('model_catalog',
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('model_family', sa.String(length=255), nullable=False),
    sa.Column('size_parameters', sa.String(length=255), nullable=False),
    sa.Column('context_window', sa.Integer(), nullable=False),
    sa.Column('supported_tasks', sa.JSON(), nullable=False),
    sa.Column('subject_matter_domains', sa.JSON(), nullable=False),
    sa.Column('use_cases', sa.JSON(), nullable=False),
    sa.Column('quality_tier', sa.String(length=255), nullable=False),
    sa.Column('license', sa.String(length=255), nullable=False),
    sa.Column('approved_for_production', sa.Boolean(), nullable=False),
    sa.Column('minimum_vram_gb', sa.Integer(), nullable=False),
    sa.Column('supports_quantization', sa.Boolean(), nullable=False),
    sa.Column('params_total_b', sa.Double(), nullable=False),
    sa.Column('params_active_b', sa.Double(), nullable=False),
    sa.Column('num_layers', sa.Integer(), nullable=False),
    sa.Column('hidden_size', sa.Integer(), nullable=False),
    sa.Column('num_attention_heads', sa.Integer(), nullable=False),
    sa.Column('num_kv_heads', sa.Integer(), nullable=False),
    sa.Column('head_dim', sa.Integer(), nullable=False),
    sa.Column('intermediate_size', sa.Integer(), nullable=False),
    sa.Column('vocab_size', sa.Integer(), nullable=False),
    sa.Column('attention', sa.String(length=255), nullable=False),
    sa.Column('num_experts', sa.Integer(), nullable=False),
    sa.Column('num_experts_active', sa.Integer(), nullable=False),
    sa.Column('kv_lora_rank', sa.Integer(), nullable=False),
    sa.Column('qk_rope_head_dim', sa.Integer(), nullable=False),
    sa.Column('sliding_window', sa.Integer(), nullable=True),
    sa.Column('precisions', sa.JSON(), nullable=False),
    sa.Column('quality', sa.JSON(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('model_id', name=op.f('pk_model_catalog'))
    )
    op.create_table('threads',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('team_id', sa.String(length=255), nullable=False),
    sa.Column('channel_id', sa.String(length=255), nullable=False),
    sa.Column('thread_ts', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_threads')),
    sa.UniqueConstraint('team_id', 'channel_id', 'thread_ts', name=op.f('uq_threads_team_id_channel_id_thread_ts'))
    )
    op.create_table('use_case_slo_templates',
    sa.Column('use_case', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('experience_class', sa.String(length=255), nullable=False),
    sa.Column('default_slos', sa.JSON(), nullable=False),
    sa.Column('traffic_defaults', sa.JSON(), nullable=False),
    sa.Column('recommended_model_characteristics', sa.JSON(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('rationale_sources', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('use_case', name=op.f('pk_use_case_slo_templates'))
    )
    op.create_table('cost_data',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('gpu_type', sa.String(length=255), nullable=False),
    sa.Column('cloud_provider', sa.String(length=255), nullable=False),
    sa.Column('instance_type', sa.String(length=255), nullable=False),
    sa.Column('gpus_per_instance', sa.Integer(), nullable=False),
    sa.Column('hourly_rate_usd', sa.Double(), nullable=False),
    sa.Column('hourly_usd_instance', sa.Double(), nullable=True),
    sa.Column('monthly_rate_usd', sa.Double(), nullable=False),
    sa.Column('region', sa.String(length=255), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['gpu_type'], ['hardware_profiles.gpu_type'], name=op.f('fk_cost_data_gpu_type_hardware_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_data'))
    )
    with op.batch_alter_table('cost_data', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cost_data_gpu_type'), ['gpu_type'], unique=False)

    op.create_table('deployment_templates',
    sa.Column('template_id', sa.String(length=255), nullable=False),
    sa.Column('use_case', sa.String(length=255), nullable=True),
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('gpu_type', sa.String(length=255), nullable=False),
    sa.Column('gpu_count', sa.Integer(), nullable=False),
    sa.Column('tensor_parallel_degree', sa.Integer(), nullable=False),
    sa.Column('kserve_config', sa.JSON(), nullable=False),
    sa.Column('vllm_config', sa.JSON(), nullable=False),
    sa.Column('autoscaling_config', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['gpu_type'], ['hardware_profiles.gpu_type'], name=op.f('fk_deployment_templates_gpu_type_hardware_profiles')),
    sa.ForeignKeyConstraint(['model_id'], ['model_catalog.model_id'], name=op.f('fk_deployment_templates_model_id_model_catalog')),
    sa.ForeignKeyConstraint(['use_case'], ['use_case_slo_templates.use_case'], name=op.f('fk_deployment_templates_use_case_use_case_slo_templates')),
    sa.PrimaryKeyConstraint('template_id', name=op.f('pk_deployment_templates'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('thread_id', sa.String(length=255), nullable=True),
    sa.Column('kind', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result_ref', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_jobs_thread_id_threads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_thread_id'), ['thread_id'], unique=False)

    op.create_table('model_benchmarks',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('source_set', sa.String(length=255), nullable=False),
    sa.Column('scenario', sa.String(length=255), nullable=False),
    sa.Column('model', sa.String(length=255), nullable=False),
    sa.Column('model_id', sa.String(length=255), nullable=True),
    sa.Column('gpu', sa.String(length=255), nullable=False),
    sa.Column('gpu_type', sa.String(length=255), nullable=True),
    sa.Column('gpu_count', sa.Integer(), nullable=False),
    sa.Column('tensor_parallel_degree', sa.Integer(), nullable=True),
    sa.Column('quantization', sa.String(length=255), nullable=True),
    sa.Column('engine', sa.String(length=255), nullable=False),
    sa.Column('engine_version', sa.String(length=255), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=True),
    sa.Column('output_tokens', sa.Integer(), nullable=True),
    sa.Column('concurrency', sa.Double(), nullable=True),
    sa.Column('request_rate', sa.Double(), nullable=True),
    sa.Column('ttft_mean_ms', sa.Double(), nullable=True),
    sa.Column('ttft_p50_ms', sa.Double(), nullable=True),
    sa.Column('ttft_p90_ms', sa.Double(), nullable=True),
    sa.Column('ttft_p99_ms', sa.Double(), nullable=True),
    sa.Column('tpot_mean_ms', sa.Double(), nullable=True),
    sa.Column('tpot_p50_ms', sa.Double(), nullable=True),
    sa.Column('tpot_p90_ms', sa.Double(), nullable=True),
    sa.Column('tpot_p99_ms', sa.Double(), nullable=True),
    sa.Column('itl_mean_ms', sa.Double(), nullable=True),
    sa.Column('e2e_mean_ms', sa.Double(), nullable=True),
    sa.Column('e2e_latency_p50_ms', sa.Double(), nullable=True),
    sa.Column('e2e_latency_p95_ms', sa.Double(), nullable=True),
    sa.Column('e2e_latency_p99_ms', sa.Double(), nullable=True),
    sa.Column('throughput_tokens_per_sec', sa.Double(), nullable=True),
    sa.Column('total_tokens_per_sec', sa.Double(), nullable=True),
    sa.Column('throughput_requests_per_sec', sa.Double(), nullable=True),
    sa.Column('memory_usage_gb', sa.Double(), nullable=True),
    sa.Column('gpu_utilization_pct', sa.Double(), nullable=True),
    sa.Column('vllm_config', sa.JSON(), nullable=True),
    sa.Column('test_conditions', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['gpu_type'], ['hardware_profiles.gpu_type'], name=op.f('fk_model_benchmarks_gpu_type_hardware_profiles')),
    sa.ForeignKeyConstraint(['model_id'], ['model_catalog.model_id'], name=op.f('fk_model_benchmarks_model_id_model_catalog')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_benchmarks'))
    )
    with op.batch_alter_table('model_benchmarks', schema=None) as batch_op:
        batch_op.create_index('ix_model_benchmarks_model_gpu', ['model_id', 'gpu_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_benchmarks_source_set'), ['source_set'], unique=False)

    op.create_table('plans',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('thread_id', sa.String(length=255), nullable=False),
    sa.Column('spec_version', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_plans_thread_id_threads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plans_thread_id'), ['thread_id'], unique=False)

    op.create_table('spec_versions',
    sa.Column('thread_id', sa.String(length=255), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('author', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_spec_versions_thread_id_threads')),
    sa.PrimaryKeyConstraint('thread_id', 'version', name=op.f('pk_spec_versions'))
    )
    op.create_table('thread_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('thread_id', sa.String(length=255), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('ts', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_thread_messages_thread_id_threads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thread_messages')),
    sa.UniqueConstraint('thread_id', 'seq', name=op.f('uq_thread_messages_thread_id_seq')),
    sa.UniqueConstraint('thread_id', 'ts', name=op.f('uq_thread_messages_thread_id_ts'))
    )
    op.create_table('approvals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=False),
    sa.Column('decided_by', sa.String(length=255), nullable=True),
    sa.Column('decision', sa.String(length=255), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_approvals_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals')),
    sa.UniqueConstraint('plan_id', 'rank', name=op.f('uq_approvals_plan_id_rank'))
    )
    op.create_table('choices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('thread_id', sa.String(length=255), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_choices_plan_id_plans')),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_choices_thread_id_threads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_choices'))
    )
    with op.batch_alter_table('choices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_choices_thread_id'), ['thread_id'], unique=False)

    op.create_table('deployment_outcomes',
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('template_id', sa.String(length=255), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('gpu_type', sa.String(length=255), nullable=False),
    sa.Column('gpu_count', sa.Integer(), nullable=False),
    sa.Column('ttft_p90_ms', sa.Double(), nullable=True),
    sa.Column('tpot_p90_ms', sa.Double(), nullable=True),
    sa.Column('e2e_latency_p95_ms', sa.Double(), nullable=True),
    sa.Column('throughput_avg_rps', sa.Double(), nullable=True),
    sa.Column('cost_per_hour_usd', sa.Double(), nullable=True),
    sa.Column('slo_compliance', sa.JSON(), nullable=False),
    sa.Column('traffic_observed', sa.JSON(), nullable=False),
    sa.Column('predicted', sa.JSON(), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('observation_period_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['gpu_type'], ['hardware_profiles.gpu_type'], name=op.f('fk_deployment_outcomes_gpu_type_hardware_profiles')),
    sa.ForeignKeyConstraint(['model_id'], ['model_catalog.model_id'], name=op.f('fk_deployment_outcomes_model_id_model_catalog')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_deployment_outcomes_plan_id_plans')),
    sa.ForeignKeyConstraint(['template_id'], ['deployment_templates.template_id'], name=op.f('fk_deployment_outcomes_template_id_deployment_templates')),
    sa.PrimaryKeyConstraint('deployment_id', name=op.f('pk_deployment_outcomes'))
    )


def downgrade() -> None:
    op.drop_table('deployment_outcomes')
    with op.batch_alter_table('choices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_choices_thread_id'))

    op.drop_table('choices')
    op.drop_table('approvals')
    op.drop_table('thread_messages')
    op.drop_table('spec_versions')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plans_thread_id'))

    op.drop_table('plans')
    with op.batch_alter_table('model_benchmarks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_benchmarks_source_set'))
        batch_op.drop_index('ix_model_benchmarks_model_gpu')

    op.drop_table('model_benchmarks')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_thread_id'))

    op.drop_table('jobs')
    op.drop_table('deployment_templates')
    with op.batch_alter_table('cost_data', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cost_data_gpu_type'))

    op.drop_table('cost_data')
    op.drop_table('use_case_slo_templates')
    op.drop_table('threads')
    op.drop_table('model_catalog')
    op.drop_table('memory_measurements')
    op.drop_table('kb_meta')
    op.drop_table('hardware_profiles')
