/* SPDX-License-Identifier: MIT */
/*
 * What the lock-free channel reads of liburcu's cds_wfcq beyond its
 * documented API (core/base/rcu.h: wfcq_link, wfcq_untouched), checked against
 * the liburcu this build uses.  meson.build pins the versions whose layout
 * was read; this test fails if a version in that range behaves otherwise.
 * The queue is driven from one thread; a half-done enqueue (tail exchanged,
 * predecessor not yet linked) is built by hand, as liburcu's enqueue leaves
 * it between its two steps.
 */
#include "harness.h"

#include "base/rcu.h"

struct queue {
	struct __cds_wfcq_head head;
	struct cds_wfcq_tail tail;
};

static void queue_init(struct queue *q)
{
	__cds_wfcq_init(&q->head, &q->tail);
}

/* An empty queue: untouched, and nothing linked at the head. */
static void c11_empty_queue_is_untouched_with_no_link(void **state)
{
	struct queue q;

	queue_init(&q);
	assert_true(wfcq_untouched(&q.head, &q.tail));
	assert_null(wfcq_link(&q.head.node));
}

/* An enqueue moves the tail off the head, then links its predecessor. */
static void c11_enqueue_moves_tail_and_links_predecessor(void **state)
{
	struct queue q;
	struct cds_wfcq_node a, b;

	queue_init(&q);
	wfcq_enqueue(&q.head, &q.tail, &a);
	assert_false(wfcq_untouched(&q.head, &q.tail));
	assert_ptr_equal(wfcq_link(&q.head.node), &a);
	assert_null(wfcq_link(&a));
	wfcq_enqueue(&q.head, &q.tail, &b);
	assert_ptr_equal(wfcq_link(&a), &b);
	assert_null(wfcq_link(&b));
}

/* Dequeuing the last node puts the tail back on the head's node. */
static void c11_dequeue_of_last_node_leaves_queue_untouched(void **state)
{
	struct queue q;
	struct cds_wfcq_node a, b;

	queue_init(&q);
	wfcq_enqueue(&q.head, &q.tail, &a);
	wfcq_enqueue(&q.head, &q.tail, &b);
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), &a);
	assert_false(wfcq_untouched(&q.head, &q.tail));
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), &b);
	assert_true(wfcq_untouched(&q.head, &q.tail));
	assert_null(wfcq_link(&q.head.node));
	assert_null(wfcq_dequeue(&q.head, &q.tail));
}

/*
 * A half-done enqueue: the tail is exchanged but the predecessor's link is
 * not written.  The queue is not untouched, and the single consumer's
 * nonblocking dequeue stops at the unlinked node with CDS_WFCQ_WOULDBLOCK
 * (channel_pass_on then releases the channel PARKED), until the link is
 * written.
 */
static void c11_dequeue_stops_at_unlinked_successor(void **state)
{
	struct queue q;
	struct cds_wfcq_node a, b;

	queue_init(&q);
	wfcq_enqueue(&q.head, &q.tail, &a);
	cds_wfcq_node_init(&b);
	struct cds_wfcq_node *before = uatomic_xchg(&q.tail.p, &b);	/* step one only */
	assert_ptr_equal(before, &a);
	assert_false(wfcq_untouched(&q.head, &q.tail));
	assert_null(wfcq_link(&a));
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), CDS_WFCQ_WOULDBLOCK);
	CMM_STORE_SHARED(a.next, &b);					/* step two */
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), &a);
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), &b);
	assert_true(wfcq_untouched(&q.head, &q.tail));
}

/* The same with the head's own link missing: the first enqueue half done. */
static void c11_first_enqueue_half_done_leaves_head_unlinked(void **state)
{
	struct queue q;
	struct cds_wfcq_node a;

	queue_init(&q);
	cds_wfcq_node_init(&a);
	assert_ptr_equal(uatomic_xchg(&q.tail.p, &a), &q.head.node);
	assert_false(wfcq_untouched(&q.head, &q.tail));
	assert_null(wfcq_link(&q.head.node));
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), CDS_WFCQ_WOULDBLOCK);
	CMM_STORE_SHARED(q.head.node.next, &a);
	assert_ptr_equal(wfcq_dequeue(&q.head, &q.tail), &a);
	assert_true(wfcq_untouched(&q.head, &q.tail));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(c11_empty_queue_is_untouched_with_no_link),
	cmocka_unit_test(c11_enqueue_moves_tail_and_links_predecessor),
	cmocka_unit_test(c11_dequeue_of_last_node_leaves_queue_untouched),
	cmocka_unit_test(c11_dequeue_stops_at_unlinked_successor),
	cmocka_unit_test(c11_first_enqueue_half_done_leaves_head_unlinked),
};

HARNESS_MAIN("wfcq_layout", tests)
