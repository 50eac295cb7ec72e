// libtorch state is process-wide (thread settings, the allocator, modules shared by fixtures): test classes run one at a
// time, as the Training collection already did, after a parallel run crashed the test host in libtorch_cpu (a freed
// tensor's reference count touched from a thread-pool thread). On 2 cores parallel classes gained little time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
