//! Patrol tasks: listing and closing (`TaskStore`).

use crate::fixtures::{code, now, task, user};
use pp_domain::task::TaskStatus;
use pp_domain::Role;
use pp_store::testing::{Backend, TestDb};
use pp_store::TaskFilter;

async fn tasks_list_and_close(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let cmd = user(&store, 1, Role::Commander).await;
    let t1 = task(&store, cmd.id, 3, 5).await;
    let t2 = task(&store, cmd.id, 3, 5).await;
    assert_eq!(store.task(t1.id).await.unwrap(), t1, "round trip");
    let all = store.tasks(&TaskFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.task.id).collect::<Vec<_>>(),
        [t2.id, t1.id],
        "newest first"
    );
    let closed = store.close_task(t1.id, now()).await.unwrap();
    assert_eq!(closed.status, TaskStatus::Closed);
    assert_eq!(
        code(store.close_task(t1.id, now()).await.unwrap_err()),
        "task_closed"
    );
    let open = store
        .tasks(&TaskFilter {
            status: Some(TaskStatus::Open),
            ..TaskFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].task.id, t2.id);
    assert_eq!(
        store
            .tasks(&TaskFilter {
                status: Some(TaskStatus::Closed),
                ..TaskFilter::default()
            })
            .await
            .unwrap()[0]
            .task
            .id,
        t1.id
    );
    assert_eq!(
        code(store.task(pp_domain::TaskId::new()).await.unwrap_err()),
        "not_found:task"
    );
    let envoy = user(&store, 2, Role::Envoy).await;
    assert_eq!(
        code(store.claim_team(t1.id, envoy.id, now()).await.unwrap_err()),
        "task_closed"
    );
}
on_each_backend!(tasks_list_and_close);
