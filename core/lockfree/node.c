/* SPDX-License-Identifier: MIT */
/*
 * Nodes: a waiting request's copy, its publication to cancel and its
 * two-owner, RCU-deferred free (lockfree.h: struct lf_node).
 */
#include <stdlib.h>

#include "base/transfer.h"
#include "lockfree/lockfree.h"

static void node_free_rcu(struct rcu_head *head)
{
	rcu_grace_period_ended();
	free(caa_container_of(head, struct lf_node, rcu));
}

void node_free(struct lf_node *node)
{
	rcu_free_later(&node->rcu, node_free_rcu);
}

/* Unpublishes the transfer's pointer to its copy: before any free (RCU). */
void node_unpublish(struct lf_node *node)
{
	mapreg_transfer *xfer = node->request.xfer;

	if (xfer != NULL)
		atomic_store_explicit(&xfer_impl(xfer)->request.queued, NULL,
				      memory_order_release);
}

/* One of a cancelled node's two owners lets go; the last one frees it. */
void node_release_cancelled(struct lf_node *node)
{
	PERTURB();
	if (atomic_fetch_sub_explicit(&node->owners, 1, memory_order_acq_rel) == 1)
		node_free(node);
}

struct lf_node *node_copy(struct request *req, uint32_t state)
{
	struct lf_node *node = malloc(sizeof(*node));

	if (node == NULL)
		return NULL;
	node->request = *req;
	node->request.owned = true;
	atomic_init(&node->request.state, state);
	atomic_init(&node->owners, 2);
	cds_wfcq_node_init(&node->queue_node);
	/* Release: a cancel that finds the node sees it whole. */
	atomic_store_explicit(&req->queued, &node->request, memory_order_release);
	return node;
}
