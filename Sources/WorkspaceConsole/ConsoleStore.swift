/// The console's accounts and workspaces, one protocol per flow (`PostgresConsoleStore` keeps
/// both). Multi-step changes are single methods so that each runs in one transaction.
/// (Sessions and codes live in `AccountAccess`.)
public typealias ConsoleStore = AccountStore & WorkspaceStore
