// SuiteTesting
